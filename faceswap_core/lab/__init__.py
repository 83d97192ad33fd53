"""What only the notebooks need: figures (`viz`), widgets (`widgets`), recorded results (`report`), and the
tour that runs every chapter (`tour`)."""
