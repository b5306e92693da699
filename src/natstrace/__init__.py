"""natstrace."""
