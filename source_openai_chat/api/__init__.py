"""Every request to the API: the lean client and the rate limiter its requests share."""
