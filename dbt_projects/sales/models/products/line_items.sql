select * from {{ ref('stg_lineitem') }}
order by order_key, line_number
