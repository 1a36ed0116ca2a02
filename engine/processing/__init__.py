"""Processing: jobs, the queue that carries them, the workers that run them."""
