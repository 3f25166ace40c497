select * from {{ ref('stg_supplier') }}
