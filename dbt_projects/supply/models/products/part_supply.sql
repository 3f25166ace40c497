select * from {{ ref('stg_partsupp') }}
order by part_key, supplier_key
