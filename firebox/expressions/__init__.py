"""The small languages AWS users write and Firebox evaluates: EventBridge event patterns (`patterns`,
`pattern_rules`), Lambda's FilterCriteria built on them (`filters`), and schedule expressions (`schedule`: rate, cron,
at). Pure functions of their input: the control plane validates with them, the pollers and engines evaluate."""
