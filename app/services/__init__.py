"""Domain rules that span models: what creating, changing and moving a todo means."""
