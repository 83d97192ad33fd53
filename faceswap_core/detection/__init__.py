"""Detecting swaps (chapter 09): what a detector looks at (`features`), its small nets (`nets`), how well it
does (`measures`: AUC, IoU), a data set of real and swapped clips split by person (`dataset`), and the saved
swap detector that scans a video (`swap_detector`). Finding faces is `faces.detect`, not this."""
