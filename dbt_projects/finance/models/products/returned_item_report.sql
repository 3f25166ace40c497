-- TPC-H Q10: customers who returned items in one quarter, by lost revenue.
select
    customers.customer_key as c_custkey,
    customers.name as c_name,
    sum(line_items.extended_price * (1 - line_items.discount)) as revenue,
    customers.account_balance as c_acctbal,
    geography.nation_name as n_name,
    customers.address as c_address,
    customers.phone as c_phone,
    customers.comment as c_comment
from {{ source('customers', 'customer_profiles_full') }} as customers
join {{ source('sales', 'orders') }} as orders on customers.customer_key = orders.customer_key
join {{ source('sales', 'line_items') }} as line_items on line_items.order_key = orders.order_key
join {{ source('customers', 'geography') }} as geography on customers.nation_key = geography.nation_key
where orders.order_date >= date '{{ var("q10_date") }}'
    and orders.order_date < date '{{ var("q10_date") }}' + interval 3 month
    and line_items.return_flag = 'R'
group by
    customers.customer_key, customers.name, customers.account_balance, customers.phone,
    geography.nation_name, customers.address, customers.comment
order by revenue desc
limit 20
