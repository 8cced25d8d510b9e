"""Page routes: each calls a service and renders a template."""
