-- An application database: tables with and without a primary key, in two schemas.
CREATE DATABASE shop;
\connect shop
CREATE SCHEMA billing;
CREATE TABLE public.orders (id int PRIMARY KEY, item text, qty int);
CREATE TABLE public.audit_log (at timestamptz DEFAULT now(), who text, what text);
CREATE TABLE billing.invoices (id int PRIMARY KEY, order_id int, total numeric);
INSERT INTO public.orders VALUES (1, 'book', 2), (2, 'pen', 10);
INSERT INTO public.audit_log (who, what) VALUES ('alice', 'created order 1'), ('bob', 'created order 2');
INSERT INTO billing.invoices VALUES (1, 1, 30.00);
