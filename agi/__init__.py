"""FastAGI server for what belongs in the dialplan: operators' feature codes, inbound callbacks."""
