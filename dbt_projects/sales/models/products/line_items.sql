select * from {{ ref('stg_lineitem') }}
