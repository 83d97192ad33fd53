"""Detecting swaps (chapter 09): what a detector looks at (`features`), its small nets (`nets`), a data set
of real and swapped clips split by person (`dataset`), the saved swap detector that scans a video
(`swap_detector`). Finding faces is `faces.detect`, not this."""
