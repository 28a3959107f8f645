#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Every configuration the documents show is checked with `ipipd -n`.

    tests/doc-configs.py IPIPD [FILE...]

Configurations are taken from README.md (``` fences tagged ini, and any
other fence with a [Section] line), from the .EX/.EE examples of the man
pages that have a [Section] line, and from examples/**/*.conf; FILEs, if
given, replace that list.  Each is written to a file of its own, named as
the text around it names it (/etc/ipipd/NAME.conf), and checked on a host
that has what the file names: as root, `ipipd -n` runs in a new network
namespace with Local on a veth interface (MTU 1500), a route to Remote
through it and an interface for each ProxyARP name, and must say
"configuration ok" with no warning.  Without root only its exit status is
judged.  A document's copy of a file of examples/ (the same first line)
must be that file.  Prints "ok - ..." or "not ok - ..." per configuration;
exits 1 if any is not ok.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = re.compile(r'^\s*\[(tunnel|address|routing|host|firewall)\]', re.I | re.M)
NAMED = re.compile(r'/etc/ipipd/([A-Za-z0-9_.-]+)\.conf')


def from_markdown(path):
    """(line, text, context) of each configuration in a Markdown file's fences."""
    out, lines = [], open(path, encoding='utf-8').read().split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'^(\s*)(```+|~~~+)\s*(\S*)', lines[i])
        if not m:
            i += 1
            continue
        fence, tag, start = m.group(2), m.group(3).lower(), i + 1
        j = start
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        text = '\n'.join(lines[start:j]) + '\n'
        if tag == 'ini' or SECTION.search(text):
            out.append((start + 1, text, '\n'.join(lines[max(0, i - 5):i])))
        i = j + 1
    return out


def deroff(line):
    """The text of one line of an .EX block, as man shows it."""
    for esc, ch in (('\\(aq', "'"), ('\\(dq', '"'), ('\\(em', '--'), ('\\-', '-'),
                    ('\\&', ''), ('\\ ', ' '), ('\\e', '\\')):
        line = line.replace(esc, ch)
    return line


def from_man(path):
    """(line, text, context) of each .EX/.EE example that is a configuration."""
    out, lines = [], open(path, encoding='utf-8').read().split('\n')
    i = 0
    while i < len(lines):
        if lines[i].strip() != '.EX':
            i += 1
            continue
        start = j = i + 1
        while j < len(lines) and lines[j].strip() != '.EE':
            j += 1
        body = [deroff(l) for l in lines[start:j] if not l.startswith('.')]
        text = '\n'.join(body) + '\n'
        if SECTION.search(text):
            context = '\n'.join(deroff(l) for l in lines[max(0, i - 8):i])
            out.append((start + 1, text, context))
        i = j + 1
    return out


def keys(text):
    """Local, Remote and the ProxyARP names of a configuration (as ipipd reads them)."""
    found = {}
    for line in text.split('\n'):
        line = re.sub(r'\s[#;].*', '', line).strip()
        m = re.match(r'^(Local|Remote|ProxyARP)\s*[=:]\s*(.*)$', line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


def check(ipipd, conf, text, label, as_root):
    """One configuration: (ok, diagnostics)."""
    k = keys(text)
    if as_root:
        # veth pairs: the kernel may have no dummy driver
        setup = ['ip link set lo up',
                 'ip link add docul0 mtu 1500 type veth peer name docul1 mtu 1500',
                 'ip link set docul1 up', 'ip link set docul0 up']
        remote, local, hosts = k.get('Remote', ''), k.get('Local', ''), None
        if remote and not re.match(r'^[0-9.]+$', remote):
            # Remote = NAME: an /etc/hosts of the namespace's own gives it an address
            hosts = tempfile.NamedTemporaryFile('w', prefix='ipipd-doc-hosts.', delete=False)
            hosts.write('127.0.0.1 localhost\n198.51.100.254 %s\n' % remote)
            hosts.close()
            setup.insert(0, 'mount --bind %s /etc/hosts' % hosts.name)
            remote = '198.51.100.254'
        if local == 'auto':	# the route to Remote gives the source address
            local = '192.0.2.254'
        if re.match(r'^[0-9.]+$', local):
            setup.append('ip addr add %s/32 dev docul0' % local)
        if re.match(r'^[0-9.]+$', remote):
            setup.append('ip route add %s/32 dev docul0%s' % (
                remote, ' src ' + local if k.get('Local') == 'auto' else ''))
        for i, name in enumerate(re.split(r'[\s,]+', k.get('ProxyARP', ''))):
            if re.match(r'^[A-Za-z0-9_.-]{1,15}$', name):
                setup.append('ip link add %s type veth peer name docpa%d' % (name, i))
        script = ' && '.join(setup) + ' && exec "$0" -n "$1"'
        cmd = ['unshare', '--net'] + (['--mount'] if hosts else []) + \
            ['sh', '-c', script, ipipd, conf]
    else:
        cmd = [ipipd, '-n', conf]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
    finally:
        if as_root and hosts:
            os.unlink(hosts.name)
    said = (p.stderr + p.stdout).strip()
    if p.returncode != 0:
        return False, said
    if as_root and (p.stderr.strip() or 'with warnings' in p.stdout or
                    'configuration ok' not in p.stdout):
        return False, said
    return True, said


def ipipd_examples():
    """examples/**/*.conf but other programs' (examples/bird/: BIRD's)."""
    return [ex for ex in sorted(glob.glob('examples/**/*.conf', recursive=True))
            if not ex.startswith('examples/bird/')]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ipipd = os.path.abspath(sys.argv[1])
    os.chdir(TOP)
    as_root = os.geteuid() == 0 and subprocess.run(
        ['unshare', '--net', 'true'], stderr=subprocess.DEVNULL).returncode == 0
    sources = sys.argv[2:] or (['README.md'] + sorted(glob.glob('man/*.[0-9]')) +
                               ipipd_examples())
    # the documents that must show configurations: a broken extractor finds none
    expected = {'README.md', 'man/ipipd.conf.5'} if not sys.argv[2:] else set()
    # a document's copy of an example (the same first line) must be the file itself
    shipped = {}
    for ex in ipipd_examples():
        text = open(ex, encoding='utf-8').read()
        shipped.setdefault(text.split('\n')[0], []).append((ex, text))
    failed = 0
    if not as_root:
        print('# not root: only the exit status of ipipd -n is judged (warnings are not)')
    with tempfile.TemporaryDirectory(prefix='ipipd-doc-') as tmp:
        for src in sources:
            if src.endswith('.conf'):
                found = [(1, open(src, encoding='utf-8').read(), src)]
            elif src.endswith('.md'):
                found = from_markdown(src)
            else:
                found = from_man(src)
            if not found and src in expected:
                print('not ok - doc configs: no configuration found in %s' % src)
                failed += 1
            for n, (line, text, context) in enumerate(found):
                if src.endswith('.conf'):
                    conf = os.path.abspath(src)
                else:
                    named = NAMED.findall(text) or NAMED.findall(context)
                    d = os.path.join(tmp, '%s-%d' % (re.sub(r'\W', '_', src), n))
                    os.makedirs(d)
                    conf = os.path.join(d, (named[-1] if named else 'doc') + '.conf')
                    with open(conf, 'w', encoding='utf-8') as f:
                        f.write(text)
                label = '%s:%d (%s)' % (src, line, os.path.basename(conf))
                copies = [] if src.endswith('.conf') else shipped.get(text.split('\n')[0], [])
                if copies and not any(t == text for _, t in copies):
                    print('not ok - doc config %s: not the same as %s, which it shows'
                          % (label, ' or '.join(e for e, _ in copies)))
                    failed += 1
                ok, said = check(ipipd, conf, text, label, as_root)
                print('%s - doc config %s' % ('ok' if ok else 'not ok', label))
                if not ok:
                    failed += 1
                    # the extracted file's lines as the document's
                    said = re.sub(re.escape(conf) + r':(\d+):',
                                  lambda m: '%s:%d:' % (src, line + int(m.group(1)) - 1), said)
                    for l in said.replace(conf, src).split('\n'):
                        print('#   ' + l)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
