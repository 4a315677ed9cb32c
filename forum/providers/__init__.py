"""Video providers: one interface, an adapter per provider, fake servers for trials."""
