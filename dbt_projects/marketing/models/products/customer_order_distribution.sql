-- TPC-H Q13: how many customers place how many orders (ignoring complaint-like order comments).
with orders_per_customer as (
    select
        customers.customer_key,
        count(orders.order_key) as c_count
    from {{ source('customers', 'customer_profiles') }} as customers
    left join {{ source('sales', 'orders') }} as orders
        on customers.customer_key = orders.customer_key
        and orders.comment not like '%{{ var("q13_word1") }}%{{ var("q13_word2") }}%'
    group by customers.customer_key
)

select
    c_count,
    count(*) as custdist
from orders_per_customer
group by c_count
order by custdist desc, c_count desc
