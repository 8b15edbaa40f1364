"""One module per dashboard area: parse the form or query, call the service, render."""
