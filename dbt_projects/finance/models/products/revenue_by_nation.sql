-- TPC-H Q5: revenue from local suppliers, per nation of one region, over one year.
select
    geography.nation as n_name,
    sum(line_items.extended_price * (1 - line_items.discount)) as revenue
from {{ source('customers', 'customer_profiles') }} as customers
join {{ source('sales', 'orders') }} as orders on customers.customer_key = orders.customer_key
join {{ source('sales', 'line_items') }} as line_items on line_items.order_key = orders.order_key
join {{ source('supply', 'suppliers') }} as suppliers
    on line_items.supplier_key = suppliers.supplier_key and customers.nation_key = suppliers.nation_key
join {{ source('customers', 'geography_v2') }} as geography on suppliers.nation_key = geography.nation_key
where geography.region = '{{ var("q5_region") }}'
    and orders.order_date >= date '{{ var("q5_date") }}'
    and orders.order_date < date '{{ var("q5_date") }}' + interval 1 year
group by geography.nation
order by revenue desc
