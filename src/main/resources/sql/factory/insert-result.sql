INSERT INTO customer_scores (dataset, build_id, customer_id, score, segment)
VALUES (:#dataset, :#build_id, :#customer_id, :#score, :#segment)
