-- TPC-H Q1: pricing summary report. Each aggregate is cast to the type its contract promises, so the
-- same SQL makes the same port on DuckDB and on Spark (whose sums and averages of decimals differ).
select
    return_flag as l_returnflag,
    line_status as l_linestatus,
    cast(sum(quantity) as decimal(38, 2)) as sum_qty,
    cast(sum(extended_price) as decimal(38, 2)) as sum_base_price,
    cast(sum(extended_price * (1 - discount)) as decimal(38, 4)) as sum_disc_price,
    cast(sum(extended_price * (1 - discount) * (1 + tax)) as decimal(38, 6)) as sum_charge,
    cast(avg(quantity) as double) as avg_qty,
    cast(avg(extended_price) as double) as avg_price,
    cast(avg(discount) as double) as avg_disc,
    count(*) as count_order
from {{ ref('stg_lineitem') }}
where ship_date <= date '1998-12-01' - interval '{{ var('q1_delta_days') }}' day
group by return_flag, line_status
order by l_returnflag, l_linestatus
