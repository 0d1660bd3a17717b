# TEST FIXTURE written for virt-pipeline: NOT a copy of mock-core-configs.
# It mimics the structure of the real template (same kind of keys, include order and jinja use)
# with a few keys only, so tests can load generated configs the way mock does.
config_opts['chroot_setup_cmd'] = 'install bash coreutils gcc make redhat-rpm-config rpm-build'
config_opts['dist'] = 'el7'  # a resultdir label only, not the %dist macro
config_opts['releasever'] = '7'
config_opts['bootstrap_image'] = 'fixture.invalid/centos:7'
config_opts['package_manager'] = 'yum'
config_opts['description'] = 'fixture CentOS 7'

# relies on mock's default value, as the real template does
config_opts['yum_install_command'] += "{% if target_arch in ['x86_64', 'aarch64'] %} --disablerepo=fixture-sclo*{% endif %}"

config_opts['yum.conf'] = """
[main]
reposdir=/dev/null
gpgcheck=0
assumeyes=1
user_agent={{ user_agent }}

[fixture-base]
name=fixture-base
baseurl=https://fixture.invalid/centos/7/os/$basearch/
enabled=1
"""
