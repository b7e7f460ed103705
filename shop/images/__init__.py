"""Product images: upload, checks and renditions, storage, and how pages and the API show them."""
