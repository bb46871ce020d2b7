SELECT customer_id, region, name, spend, visits, updated_at
  FROM demo_customer
 WHERE region IN (SELECT region FROM demo_customer WHERE updated_at > :#since)
 ORDER BY updated_at, customer_id
