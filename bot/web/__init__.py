"""HTTP side of the web process: app factory, routes, middlewares and handlers."""
