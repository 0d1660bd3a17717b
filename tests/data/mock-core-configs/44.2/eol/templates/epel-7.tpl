# TEST FIXTURE written for virt-pipeline: NOT a copy of mock-core-configs.
# It mimics the structure of the real template (same kind of keys, include order and jinja use)
# with a few keys only, so tests can load generated configs the way mock does.
config_opts['chroot_setup_cmd'] = 'install @buildsys-build'

# needs centos-7.tpl included first, as the real one does
config_opts['yum.conf'] += """
[fixture-epel]
name=fixture-epel
baseurl=https://fixture.invalid/epel/7/$basearch/
enabled=1
"""
