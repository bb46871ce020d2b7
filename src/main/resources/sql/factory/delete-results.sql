DELETE FROM customer_scores WHERE dataset = :#dataset
