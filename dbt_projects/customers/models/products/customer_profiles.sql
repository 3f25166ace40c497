select * from {{ ref('stg_customer') }}
order by customer_key
