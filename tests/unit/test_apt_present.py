"""apt_present asks dpkg first and runs the apt module only when a package is not at its version."""

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task
from ansible_collections.awsome.ml_cluster.plugins.action.apt_present import ActionModule
from ansible_collections.awsome.ml_cluster.plugins.module_utils.packages import dpkg_query_command

HELD = "libnccl2 2.27.7-1+cuda12.9 hi \nlibnccl-dev 2.27.7-1+cuda12.9 hi \n"


def action(args, dpkg_stdout):
    task = Task()
    task.args = args
    plugin = ActionModule(task, mock.Mock(), mock.Mock(), loader=None, templar=None, shared_loader_obj=None)
    plugin._low_level_execute_command = mock.Mock(return_value={"rc": 0, "stdout": dpkg_stdout, "stderr": ""})
    plugin._execute_module = mock.Mock(return_value={"changed": True})
    return plugin


def run(plugin):
    with mock.patch("ansible.plugins.action.ActionBase.run", return_value={}):
        return plugin.run(task_vars={})


def test_nothing_runs_when_dpkg_shows_every_package_at_its_version():
    plugin = action({"name": ["libnccl2=2.27.7-1+cuda12.9", "libnccl-dev=2.27.7-1+cuda12.9"]}, HELD)
    result = run(plugin)
    assert result["changed"] is False and result["missing"] == []
    plugin._execute_module.assert_not_called()
    plugin._low_level_execute_command.assert_called_once_with(dpkg_query_command(["libnccl2", "libnccl-dev"]))


def test_apt_runs_for_all_the_packages_with_its_options_when_one_is_at_another_version():
    specs = ["libnccl2=2.28.9-1+cuda12.9", "libnccl-dev=2.28.9-1+cuda12.9"]
    plugin = action({"name": specs, "install_recommends": False, "allow_downgrade": True}, HELD)
    result = run(plugin)
    assert result["changed"] is True and result["missing"] == ["libnccl2", "libnccl-dev"]
    plugin._execute_module.assert_called_once_with(
        "ansible.builtin.apt",
        module_args={"name": specs, "state": "present", "install_recommends": False, "allow_downgrade": True},
        task_vars={},
    )


def test_a_package_dpkg_does_not_know_makes_apt_run():
    plugin = action({"name": "libnccl2, cuda-toolkit-12-8=12.8.1-1"}, "libnccl2 2.27.7-1+cuda12.9 ii \n")
    assert run(plugin)["missing"] == ["cuda-toolkit-12-8"]


@pytest.mark.parametrize("args", [{"name": []}, {"name": ["x"], "state": "absent"}])
def test_bad_arguments_are_refused(args):
    with pytest.raises(AnsibleActionFail):
        run(action(args, ""))


def test_the_query_quotes_each_name_for_the_shell():
    assert dpkg_query_command(["a'b"]) == "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' 'a'\\''b'"
