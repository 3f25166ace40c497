-- TPC-H Q3: unshipped orders of one market segment with the highest revenue.
select
    line_items.order_key as l_orderkey,
    sum(line_items.extended_price * (1 - line_items.discount)) as revenue,
    orders.order_date as o_orderdate,
    orders.ship_priority as o_shippriority
from {{ source('customers', 'customer_profiles') }} as customers
join {{ source('sales', 'orders') }} as orders on customers.customer_key = orders.customer_key
join {{ source('sales', 'line_items') }} as line_items on line_items.order_key = orders.order_key
where customers.market_segment = '{{ var("q3_segment") }}'
    and orders.order_date < date '{{ var("q3_date") }}'
    and line_items.ship_date > date '{{ var("q3_date") }}'
group by line_items.order_key, orders.order_date, orders.ship_priority
order by revenue desc, o_orderdate
limit 10
