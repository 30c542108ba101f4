-- Many tables in several schemas: 4 schemas of 50 tables, every other one without a primary key.
CREATE DATABASE many;
\connect many
DO $$
BEGIN
  FOR s IN 1..4 LOOP
    EXECUTE format('CREATE SCHEMA app%s', s);
    FOR t IN 1..50 LOOP
      IF t % 2 = 0 THEN
        EXECUTE format('CREATE TABLE app%s.t%s (id int PRIMARY KEY, v text)', s, t);
      ELSE
        EXECUTE format('CREATE TABLE app%s.t%s (id int, v text)', s, t);
      END IF;
    END LOOP;
  END LOOP;
END $$;
