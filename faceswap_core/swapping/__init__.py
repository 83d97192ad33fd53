"""Swapping (chapter 05): one frame found, aligned, decoded and blended (`swap`, with its `options`), faces
followed between detections (`tracking`), a whole video with its audio (`convert`)."""
