"""Model drafting (I/O): a language model writes the narrative parts of a draft from a fact sheet."""
