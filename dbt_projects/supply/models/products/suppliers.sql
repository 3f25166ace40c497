select * from {{ ref('stg_supplier') }}
order by supplier_key
