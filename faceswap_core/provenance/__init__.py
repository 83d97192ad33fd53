"""Provenance (chapters 05, 09): marks that say a video is a swap: a visible label and metadata tags
(`labelling`), an invisible watermark (`watermark`), signed content credentials (`credentials`), and
reading them all back (`verifier`)."""
