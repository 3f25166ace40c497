select * from {{ ref('stg_orders') }}
order by order_key
