select * from {{ ref('stg_partsupp') }}
