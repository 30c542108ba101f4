-- A second database, tracked through a table list: contacts is published, notes is not.
CREATE DATABASE crm;
\connect crm
CREATE TABLE public.contacts (id int PRIMARY KEY, name text);
CREATE TABLE public.notes (body text);
INSERT INTO public.contacts VALUES (1, 'Ada');
