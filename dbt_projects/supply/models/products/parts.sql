select * from {{ ref('stg_part') }}
