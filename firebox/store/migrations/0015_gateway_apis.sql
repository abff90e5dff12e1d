-- API Gateway APIs: HTTP APIs (apigatewayv2, kind 'HTTP') and REST APIs (apigateway, kind 'REST'), each a JSON
-- document, and their parts (routes, integrations, stages, authorizers; resources, deployments, stages), each a
-- JSON document keyed by the API, the part's kind and its id. Deleting an API deletes its parts.
CREATE TABLE gateway_apis (
    api_id  TEXT PRIMARY KEY,
    kind    TEXT NOT NULL,
    doc     TEXT NOT NULL,
    created REAL NOT NULL
);

CREATE INDEX gateway_apis_by_kind ON gateway_apis (kind, created);

CREATE TABLE gateway_parts (
    api_id  TEXT NOT NULL REFERENCES gateway_apis (api_id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    part_id TEXT NOT NULL,
    doc     TEXT NOT NULL,
    PRIMARY KEY (api_id, kind, part_id)
);
