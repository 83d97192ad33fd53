"""What only the notebooks need: figures (`viz`, and a chapter's own in `swap_plots` and `detection_plots`),
widgets (`widgets`), real sample photos (`sample_photos`), recorded results (`report`), and the tour that
runs every chapter (`tour`)."""
