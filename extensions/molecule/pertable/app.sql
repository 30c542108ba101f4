-- An application database for per-table tracking: three tables in public, one in another schema.
CREATE DATABASE app;
\connect app
CREATE SCHEMA s2;
CREATE TABLE public.t1 (id int PRIMARY KEY, v text);
CREATE TABLE public.t2 (id int PRIMARY KEY, v text);
CREATE TABLE public.t3 (id int PRIMARY KEY, v text);
CREATE TABLE s2.x (id int PRIMARY KEY, v text);
INSERT INTO public.t1 VALUES (1, 'one');
INSERT INTO public.t2 VALUES (2, 'two');
INSERT INTO public.t3 VALUES (3, 'three');
INSERT INTO s2.x VALUES (4, 'four');
