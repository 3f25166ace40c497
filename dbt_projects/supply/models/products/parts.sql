select * from {{ ref('stg_part') }}
order by part_key
