#!/usr/bin/env python
"""Render the collection's module, role and playbook documentation to Markdown.

Reads what ``ansible-doc --json`` returns for an installed copy of the
collection (ANSIBLE_COLLECTIONS_PATH must point at it) and writes one page per
module, role and playbook plus an index into the output directory. The markup
of the docs (C(), O(), V(), RV(), ...) is converted with antsibull-docs-parser,
the library antsibull-docs itself uses. Output is sorted and carries no dates,
so a re-run on unchanged code writes identical files.

Usage: docs_md.py COLLECTION_DIR OUTPUT_DIR
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml
from antsibull_docs_parser import dom
from antsibull_docs_parser.md import LinkProvider, to_md
from antsibull_docs_parser.parser import Context, parse

COLLECTION = 'bemi.postgresql'


def ansible_doc(*args):
    out = subprocess.run(['ansible-doc'] + list(args), check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    return json.loads(out)


def anchor(kind, name):
    """GitHub keeps explicit ids (prefixed, but #fragment links still resolve)."""
    return '%s-%s' % (kind, name.replace('[]', '').replace('.', '/'))


class Links(LinkProvider):
    """Links between the pages of this collection; other collections stay plain text."""

    def __init__(self, page_of):
        self.page_of = page_of  # fqcn -> file name

    def plugin_link(self, plugin):
        return self.page_of.get((plugin.fqcn, plugin.type))

    def plugin_option_like_link(self, plugin, entrypoint, what, name, current_plugin):
        target = '#' + anchor('parameter' if what == 'option' else 'return', '.'.join(name))
        if current_plugin:
            return target
        page = self.page_of.get((plugin.fqcn, plugin.type))
        return page + target if page else None


class Renderer(object):
    def __init__(self, links, fqcn, plugin_type, entrypoint=None):
        self.links = links
        self.plugin = dom.PluginIdentifier(fqcn=fqcn, type=plugin_type)
        self.entrypoint = entrypoint

    def md(self, text, sep='\n\n'):
        if text is None:
            return ''
        paragraphs = parse(text, Context(current_plugin=self.plugin, role_entrypoint=self.entrypoint))
        return to_md(paragraphs, link_provider=self.links, current_plugin=self.plugin, par_sep=sep)

    def cell(self, text):
        """Markdown for a table cell: one line, pipes escaped."""
        if isinstance(text, str):
            text = [text]
        return '<br>'.join(self.md(part, sep='<br>').replace('\n', ' ') for part in text or []).replace('|', '\\|')


def code(value):
    text = json.dumps(value) if not isinstance(value, str) or value == '' else value
    return '`%s`' % text.replace('|', '\\|') if '`' not in text else '<code>%s</code>' % text.replace('|', '&#124;')


def option_rows(render, options, prefix='', kind='parameter'):
    rows = []
    for name in sorted(options):
        spec = options[name]
        full = prefix + name
        label = '<a id="%s"></a>`%s`' % (anchor(kind, full), full)
        if spec.get('aliases'):
            label += '<br>aliases: %s' % ', '.join('`%s`' % alias for alias in spec['aliases'])
        kind_text = spec.get('type', 'str')
        if kind_text == 'list' and spec.get('elements'):
            kind_text = 'list of %s' % spec['elements']
        if spec.get('required'):
            kind_text += ', **required**'
        facts = []
        if spec.get('choices'):
            facts.append('choices: %s' % ', '.join(code(choice) for choice in spec['choices']))
        if 'default' in spec and spec['default'] is not None:
            facts.append('default: %s' % code(spec['default']))
        description = render.cell(spec.get('description'))
        if facts:
            description += '<br>' + '; '.join(facts)
        rows.append('| %s | %s | %s |' % (label, kind_text, description))
        sub = spec.get('suboptions') or spec.get('options')
        if sub:
            rows.extend(option_rows(render, sub, full + ('[].' if spec.get('type') == 'list' else '.'), kind))
    return rows


def return_rows(render, values, prefix=''):
    rows = []
    for name in sorted(values):
        spec = values[name]
        full = prefix + name
        label = '<a id="%s"></a>`%s`' % (anchor('return', full), full)
        kind_text = spec.get('type', '')
        if kind_text == 'list' and spec.get('elements'):
            kind_text = 'list of %s' % spec['elements']
        description = render.cell(spec.get('description'))
        if spec.get('returned'):
            description += '<br>Returned: %s' % render.cell(spec['returned'])
        if 'sample' in spec:
            description += '<br>Sample: %s' % code(spec['sample'])
        rows.append('| %s | %s | %s |' % (label, kind_text, description))
        if spec.get('contains'):
            rows.extend(return_rows(render, spec['contains'], full + '.'))
    return rows


def bullets(render, items):
    if isinstance(items, str):
        items = [items]
    return ['- ' + render.md(item).replace('\n\n', '\n\n  ') for item in items or []]


def seealso(render, items):
    lines = []
    for item in items or []:
        if 'module' in item:
            page = render.links.page_of.get((item['module'], 'module'))
            target = '[%s](%s)' % (item['module'], page) if page else '`%s`' % item['module']
            lines.append('- %s%s' % (target, (': ' + render.md(item['description'])) if item.get('description') else ''))
        elif 'link' in item:
            lines.append('- [%s](%s): %s' % (item['name'], item['link'], render.md(item.get('description', ''))))
    return lines


def module_page(fqcn, data, links):
    doc = data['doc']
    render = Renderer(links, fqcn, 'module')
    out = ['# %s' % fqcn, '', render.md(doc['short_description']), '']
    if doc.get('version_added'):
        out += ['New in %s %s.' % (COLLECTION, doc['version_added']), '']
    out += ['[All modules and roles](README.md)', '', '## Synopsis', ''] + bullets(render, doc.get('description')) + ['']
    if doc.get('requirements'):
        out += ['## Requirements', '', 'On the host that runs the module:', ''] + bullets(render, doc['requirements']) + ['']
    out += ['## Parameters', '', '| Parameter | Type | Description |', '| --- | --- | --- |']
    out += option_rows(render, doc.get('options') or {}) + ['']
    if doc.get('attributes'):
        out += ['## Attributes', '', '| Attribute | Support | Description |', '| --- | --- | --- |']
        for name in sorted(doc['attributes']):
            attr = doc['attributes'][name]
            support = attr.get('support', '')
            if attr.get('membership'):
                support += ' (%s)' % ', '.join('`%s`' % group for group in attr['membership'])
            out.append('| `%s` | %s | %s |' % (name, support, render.cell(attr.get('description'))))
        out.append('')
    if doc.get('notes'):
        out += ['## Notes', ''] + bullets(render, doc['notes']) + ['']
    if doc.get('seealso'):
        out += ['## See also', ''] + seealso(render, doc['seealso']) + ['']
    if data.get('examples'):
        out += ['## Examples', '', '```yaml', data['examples'].strip('\n'), '```', '']
    if data.get('return'):
        out += ['## Return values', '', 'Common return values are documented in the Ansible documentation; '
                'these are specific to this module.', '', '| Key | Type | Description |', '| --- | --- | --- |']
        out += return_rows(render, data['return']) + ['']
    if doc.get('author'):
        out += ['## Authors', ''] + ['- %s' % author for author in doc['author']] + ['']
    return '\n'.join(out)


def role_page(fqcn, data, links, collection_dir):
    name = fqcn.split('.')[-1]
    out = ['# %s (role)' % fqcn, '']
    for entrypoint in sorted(data['entry_points']):
        spec = data['entry_points'][entrypoint]
        render = Renderer(links, fqcn, 'role', entrypoint)
        out += [render.md(spec.get('short_description')), '', '[All modules and roles](README.md)', '',
                '## Entry point `%s`' % entrypoint, '']
        out += bullets(render, spec.get('description')) + ['']
        out += ['### Variables', '', '| Variable | Type | Description |', '| --- | --- | --- |']
        out += option_rows(render, spec.get('options') or {}) + ['']
        if spec.get('author'):
            out += ['### Authors', ''] + ['- %s' % author for author in spec['author']] + ['']
    defaults = os.path.join(collection_dir, 'roles', name, 'defaults', 'main.yml')
    if os.path.exists(defaults):
        with open(defaults) as handle:
            out += ['## Defaults', '', 'As in `roles/%s/defaults/main.yml`:' % name, '', '```yaml', handle.read().strip('\n'), '```', '']
    return '\n'.join(out)


def playbook_page(fqcn, path):
    with open(path) as handle:
        text = handle.read()
    comments = []
    for line in text.splitlines():
        if line.startswith('---'):
            continue
        if not line.startswith('#'):
            break
        comments.append(line[1:].strip())
    yaml.safe_load(text)  # a playbook that does not parse must not be documented
    out = ['# %s (playbook)' % fqcn, '', '[All modules and roles](README.md)', '']
    if comments:
        out += ['```text'] + comments + ['```', '']
    out += ['Run it with `ansible-playbook %s -i inventory`.' % fqcn, '', '## Source', '', '```yaml', text.strip('\n'), '```', '']
    return '\n'.join(out)


def main(collection_dir, output_dir):
    modules = sorted(ansible_doc('-t', 'module', '-l', COLLECTION, '--json'))
    roles = sorted(ansible_doc('-t', 'role', '-l', COLLECTION, '--json')) if os.path.isdir(
        os.path.join(collection_dir, 'roles')) else []
    playbook_dir = os.path.join(collection_dir, 'playbooks')
    playbooks = sorted(name[:-4] for name in os.listdir(playbook_dir)
                       if name.endswith('.yml')) if os.path.isdir(playbook_dir) else []

    page_of = {}
    for fqcn in modules:
        page_of[(fqcn, 'module')] = '%s_module.md' % fqcn.split('.')[-1]
    for fqcn in roles:
        page_of[(fqcn, 'role')] = '%s_role.md' % fqcn.split('.')[-1]
    links = Links(page_of)

    pages = {}
    index = ['# Reference of %s' % COLLECTION, '',
             'Generated from the code by `scripts/docs.sh`; do not edit. The [user guide](../README.md) explains how to use them.', '']
    if modules:
        docs = ansible_doc('-t', 'module', '--json', *modules)
        index += ['## Modules', '', '| Module | Description |', '| --- | --- |']
        for fqcn in modules:
            page = page_of[(fqcn, 'module')]
            pages[page] = module_page(fqcn, docs[fqcn], links)
            short = Renderer(links, fqcn, 'module').cell(docs[fqcn]['doc']['short_description'])
            index.append('| [%s](%s) | %s |' % (fqcn, page, short))
        index.append('')
    if roles:
        docs = ansible_doc('-t', 'role', '--json', *roles)
        index += ['## Roles', '', '| Role | Description |', '| --- | --- |']
        for fqcn in roles:
            page = page_of[(fqcn, 'role')]
            pages[page] = role_page(fqcn, docs[fqcn], links, collection_dir)
            short = Renderer(links, fqcn, 'role', 'main').cell(
                docs[fqcn]['entry_points'].get('main', {}).get('short_description'))
            index.append('| [%s](%s) | %s |' % (fqcn, page, short))
        index.append('')
    if playbooks:
        index += ['## Playbooks', '', '| Playbook | |', '| --- | --- |']
        for name in playbooks:
            fqcn = '%s.%s' % (COLLECTION, name)
            page = '%s_playbook.md' % name
            pages[page] = playbook_page(fqcn, os.path.join(playbook_dir, name + '.yml'))
            index.append('| [%s](%s) | `ansible-playbook %s` |' % (fqcn, page, fqcn))
        index.append('')
    pages['README.md'] = '\n'.join(index)

    os.makedirs(output_dir, exist_ok=True)
    for name in os.listdir(output_dir):
        if name.endswith('.md') and name not in pages:
            os.remove(os.path.join(output_dir, name))
    for name, text in sorted(pages.items()):
        with open(os.path.join(output_dir, name), 'w') as handle:
            handle.write(text.rstrip('\n') + '\n')
    print('wrote %d pages to %s' % (len(pages), output_dir))


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
