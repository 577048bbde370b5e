"""The proposer: a model, through the Gateway, proposes bounded edits to skill files."""
