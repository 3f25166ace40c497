select * from {{ ref('stg_customer') }}
