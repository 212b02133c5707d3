// Placeholder: replaced by the ajv standalone build of schema/config.schema.json.
