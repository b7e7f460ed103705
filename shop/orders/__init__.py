"""Orders: their lifecycle, the outbox, the queue and the workers that confirm them."""
