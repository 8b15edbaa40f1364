"""Pure business rules. Imports only the standard library and ordermesh.domain."""
