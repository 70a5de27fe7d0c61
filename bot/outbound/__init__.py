"""Everything lvzhi sends on its own initiative: the platform API clients, the delivery queue and worker."""
