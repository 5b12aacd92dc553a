"""Recurring todos: RRULE and time-zone rules, next occurrences, reminder scheduling and calendar feeds."""
