"""Demo data: the three situations the product is built for."""
