-- DEMO ONLY (factory.demo.enabled = true): a customer table to read and an output table to write.
CREATE TABLE demo_customer (
    customer_id  VARCHAR(40)   NOT NULL PRIMARY KEY,
    region       VARCHAR(20)   NOT NULL,
    name         VARCHAR(200)  NOT NULL,
    spend        DECIMAL(12,2) NOT NULL,
    visits       INTEGER       NOT NULL,
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE customer_scores (
    dataset      VARCHAR(200)  NOT NULL,
    build_id     VARCHAR(100)  NOT NULL,
    customer_id  VARCHAR(40)   NOT NULL,
    score        DECIMAL(8,4)  NOT NULL,
    segment      VARCHAR(40)   NOT NULL,
    PRIMARY KEY (dataset, customer_id)
);

INSERT INTO demo_customer (customer_id, region, name, spend, visits, updated_at) VALUES
 ('C-1001', 'NA', 'Ada Lovelace', 1520.40, 12, TIMESTAMP '2026-01-05 09:00:00'),
 ('C-1002', 'NA', 'Grace Hopper', 310.00, 3, TIMESTAMP '2026-01-05 09:01:00'),
 ('C-1003', 'NA', 'Alan Turing', 2890.10, 25, TIMESTAMP '2026-01-05 09:02:00'),
 ('C-1004', 'NA', 'Katherine Johnson', 75.90, 1, TIMESTAMP '2026-01-05 09:03:00'),
 ('C-1005', 'NA', 'Edsger Dijkstra', 990.00, 8, TIMESTAMP '2026-01-05 09:04:00'),
 ('C-2001', 'EMEA', 'Hedy Lamarr', 640.25, 6, TIMESTAMP '2026-01-05 09:05:00'),
 ('C-2002', 'EMEA', 'Tim Berners-Lee', 4100.00, 31, TIMESTAMP '2026-01-05 09:06:00'),
 ('C-2003', 'EMEA', 'Margaret Hamilton', 120.00, 2, TIMESTAMP '2026-01-05 09:07:00'),
 ('C-2004', 'EMEA', 'Konrad Zuse', 880.80, 9, TIMESTAMP '2026-01-05 09:08:00'),
 ('C-2005', 'EMEA', 'Barbara Liskov', 1999.99, 15, TIMESTAMP '2026-01-05 09:09:00'),
 ('C-3001', 'APAC', 'Radia Perlman', 450.00, 4, TIMESTAMP '2026-01-05 09:10:00'),
 ('C-3002', 'APAC', 'Yukihiro Matsumoto', 3050.50, 22, TIMESTAMP '2026-01-05 09:11:00'),
 ('C-3003', 'APAC', 'Shafi Goldwasser', 60.00, 1, TIMESTAMP '2026-01-05 09:12:00');
